"""A Shapefile's text encoding, decided on read: ``.cpg``, an override, or detected from the DBF's bytes.

Chinese GIS exports are usually GBK/GB18030 shapefiles without a ``.cpg``; GDAL then assumes ISO-8859-1 and every
name turns into ``Íø¸ñ``. ``detect_dbf_encoding`` reads the DBF's field names and text cells (dBASE III header
layout: record count, header and record length at bytes 4-11, the language driver id at byte 29, 32-byte field
descriptors), tries UTF-8 strictly (random GBK bytes almost never form valid UTF-8), then GB18030 (a superset of
GBK/GB2312), and keeps the decoding with the least mojibake (``geo.text.mojibake_score``).
"""

from __future__ import annotations

import codecs
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from geo.text import MOJIBAKE_THRESHOLD, REPLACEMENT, mojibake_score

CANDIDATES = ("UTF-8", "GB18030")


@dataclass(frozen=True)
class EncodingGuess:
    """The encoding to read a Shapefile's text with, and how it was decided."""

    encoding: str | None  # None: plain ASCII, nothing to decide
    how: str  # "cpg", "override", "detected", "ascii"
    score: float = 0.0  # mojibake score of the chosen decoding (0 clean … 1 garbage)
    ldid: int = 0  # the DBF's language driver id byte


@dataclass(frozen=True)
class DbfHeader:
    """What ``read_dbf_header`` found: the language driver id byte, raw field names and non-ASCII text cells."""

    ldid: int
    field_names: list[bytes]
    text_cells: list[bytes]  # non-empty, non-ASCII text cells of the first records


def read_dbf_header(data: bytes, max_rows: int = 2000) -> DbfHeader:
    """Field names (raw bytes) and up to ``max_rows`` records' non-ASCII text cells of a dBASE file."""
    n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    ldid = data[29] if len(data) > 29 else 0
    names: list[bytes] = []
    fields: list[tuple[bytes, int, int]] = []  # (type, offset in record, length)
    offset, pos = 1, 32
    while pos + 32 <= min(header_len, len(data)) and data[pos] != 0x0D:
        desc = data[pos : pos + 32]
        names.append(desc[:11].split(b"\x00", 1)[0])
        fields.append((desc[11:12], offset, desc[16]))
        offset += desc[16]
        pos += 32
    cells: list[bytes] = []
    for r in range(min(n_records, max_rows)):
        start = header_len + r * record_len
        record = data[start : start + record_len]
        for ftype, off, length in fields:
            if ftype in (b"C", b"M"):
                cell = record[off : off + length].strip(b" \x00")
                if cell and any(b > 0x7F for b in cell):
                    cells.append(cell)
    return DbfHeader(ldid, names, cells)


def dbf_bytes(path: str | Path) -> bytes | None:
    """The ``.dbf`` beside a ``.shp`` (any case), or inside a zip for ``/vsizip/archive.zip/inner.shp``."""
    text = str(path)
    if text.startswith("/vsizip/"):
        archive, _, inner = text.removeprefix("/vsizip/").partition(".zip/")
        archive += ".zip"
        with zipfile.ZipFile(archive) as zf:
            stem = inner.rsplit(".", 1)[0].lower()
            for name in zf.namelist():
                if name.lower() == stem + ".dbf":
                    return zf.read(name)
        return None
    p = Path(text)
    for suffix in (".dbf", ".DBF"):
        if p.with_suffix(suffix).exists():
            return p.with_suffix(suffix).read_bytes()
    return None


def has_cpg(path: str | Path) -> bool:
    """Whether a ``.cpg`` (code page file) sits beside the ``.shp`` (any case), or inside the zip for
    ``/vsizip/archive.zip/inner.shp``. Raises ``zipfile.BadZipFile`` for a broken archive."""
    text = str(path)
    if text.startswith("/vsizip/"):
        archive, _, inner = text.removeprefix("/vsizip/").partition(".zip/")
        with zipfile.ZipFile(archive + ".zip") as zf:
            stem = inner.rsplit(".", 1)[0].lower()
            return any(n.lower() == stem + ".cpg" for n in zf.namelist())
    p = Path(text)
    return p.with_suffix(".cpg").exists() or p.with_suffix(".CPG").exists()


def _decode_name(raw: bytes, encoding: str) -> str:
    """Strict, except that a multi-byte character cut at the end (the 10-byte name limit) is allowed."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    text = decoder.decode(raw, final=False)
    return text + (REPLACEMENT if decoder.getstate()[0] else "")


def detect_dbf_encoding(data: bytes) -> EncodingGuess:
    """The encoding that decodes the DBF's names and texts strictly with the least mojibake."""
    header = read_dbf_header(data)
    raw = [n for n in header.field_names if any(b > 0x7F for b in n)] + header.text_cells
    if not raw:
        return EncodingGuess(None, "ascii", 0.0, header.ldid)
    best: EncodingGuess | None = None
    for enc in CANDIDATES:
        try:
            texts = [_decode_name(n, enc) for n in header.field_names] + [c.decode(enc) for c in header.text_cells]
        except UnicodeDecodeError:
            continue
        score = mojibake_score(t.replace(REPLACEMENT, "") for t in texts)  # a cut name is not mojibake
        if best is None or score < best.score - 0.05:
            best = EncodingGuess(enc, "detected", score, header.ldid)
    return best or EncodingGuess("GB18030", "detected", 1.0, header.ldid)


_GDAL_NAMES = {"iso8859-1": "ISO-8859-1", "utf-8": "UTF-8", "gb18030": "GB18030", "gbk": "GBK", "gb2312": "GB2312",
               "cp936": "CP936", "big5": "BIG5", "cp1252": "CP1252"}  # fmt: skip


def gdal_encoding(name: str) -> str:
    """A Python codec name (``latin-1``, ``gbk`` …) as GDAL/iconv spells it."""
    canonical = codecs.lookup(name).name
    return _GDAL_NAMES.get(canonical, canonical.upper())


def shapefile_encoding(path: str | Path, override: str | None = None) -> EncodingGuess:
    """``override`` if given; GDAL's own choice when a ``.cpg`` exists; else what the DBF's bytes say."""
    if override:
        return EncodingGuess(gdal_encoding(override), "override")
    if has_cpg(path):
        return EncodingGuess(None, "cpg")
    data = dbf_bytes(path)
    return detect_dbf_encoding(data) if data else EncodingGuess(None, "ascii")


# Byte-order marks, longest first (UTF-32 LE starts with UTF-16 LE's).
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE with BOM"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE with BOM"),
    (codecs.BOM_UTF8, "utf-8", 'UTF-8 with BOM (Windows Notepad\'s "UTF-8 with BOM")'),
    (codecs.BOM_UTF16_LE, "utf-16-le", 'UTF-16 LE with BOM (Windows Notepad\'s "Unicode")'),
    (codecs.BOM_UTF16_BE, "utf-16-be", 'UTF-16 BE with BOM (Windows Notepad\'s "Unicode big endian")'),
)


_SAMPLE_CHARS = 200_000


@dataclass(frozen=True)
class DecodedText:
    """A text file's contents and how they were decoded: ``encoding`` as Python names it, ``how`` in words for
    the report (``""`` for plain UTF-8 without a BOM, the only encoding RFC 7946 allows for GeoJSON)."""

    text: str
    encoding: str
    how: str


class TextEncodingError(ValueError):
    """A text file no candidate encoding decodes; the message names what was tried and the way out."""


def decode_text(data: bytes, override: str | None = None) -> DecodedText:
    """Decode a text file (GeoJSON, CSV …) as the tools that write Chinese data do.

    Order: a byte-order mark (UTF-8/UTF-16/UTF-32: Windows Notepad writes them) wins, then ``override`` (the
    ``--encoding`` option / ``encoding`` in onescreen.toml), then strict UTF-8, then UTF-16 without a BOM (NUL in
    every other byte of ASCII text), then GB18030 (a superset of GBK/CP936 and GB2312, what "ANSI" is on a
    Chinese Windows), or Big5 when that reads as mojibake (``geo.text.mojibake_score`` ≥ 0.3 on the first
    200,000 characters: GBK text almost never does, Big5 text does) and Big5 decodes strictly. Line ends are
    left alone (JSON does not care; CR LF is whitespace). Raises ``TextEncodingError`` naming the byte that no
    candidate could decode and the option to use."""
    found = _with_bom(data)
    if found is not None:
        return found
    if override:
        return _with_override(data, override)
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", "")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    found = _utf16_without_bom(data)
    if found is not None:
        return found
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise TextEncodingError(
            f"neither UTF-8 (byte {first_bad}: 0x{data[first_bad]:02x}) nor GBK/GB18030 (byte {exc.start}); "
            "give its encoding with --encoding (encoding = … in onescreen.toml), e.g. BIG5"
        ) from None
    if mojibake_score([text[:_SAMPLE_CHARS]]) >= MOJIBAKE_THRESHOLD:  # garbled as GBK: a Traditional-Chinese tool?
        try:
            big5 = data.decode("big5")
        except UnicodeDecodeError:
            pass
        else:
            return DecodedText(big5, "big5", "Big5 (detected: not UTF-8, garbled as GBK; Traditional-Chinese Windows)")
    return DecodedText(text, "gb18030", 'GBK/GB18030 (detected: not UTF-8; "ANSI" on a Chinese Windows)')


def _with_bom(data: bytes) -> DecodedText | None:
    for bom, codec, how in _BOMS:
        if data.startswith(bom):
            try:
                return DecodedText(data[len(bom) :].decode(codec), codec, how)
            except UnicodeDecodeError as exc:
                raise TextEncodingError(
                    f"starts with a {how} byte-order mark but byte {exc.start + len(bom)} is not {codec}"
                ) from None
    return None


def _with_override(data: bytes, override: str) -> DecodedText:
    try:
        return DecodedText(data.decode(override), codecs.lookup(override).name, f"{override} (--encoding)")
    except UnicodeDecodeError as exc:
        try:
            guess = f"; it reads as {decode_text(data).how or 'UTF-8'}"
        except TextEncodingError:
            guess = ""
        raise TextEncodingError(
            f"byte {exc.start} (0x{data[exc.start]:02x}) is not {override}, the --encoding/encoding given{guess}"
        ) from None


def _utf16_without_bom(data: bytes) -> DecodedText | None:
    """UTF-16 text without a BOM: ASCII characters put a NUL in every other byte (odd ones: LE, even: BE)."""
    head = data[:200]
    if len(head) < 4:
        return None
    for zeros, other, codec, order in ((head[1::2], head[0::2], "utf-16-le", "LE"),
                                       (head[0::2], head[1::2], "utf-16-be", "BE")):  # fmt: skip
        if zeros.count(0) > len(head) // 4 and other.count(0) < len(head) // 8:
            try:
                return DecodedText(data.decode(codec), codec, f"UTF-16 {order} without a byte-order mark")
            except UnicodeDecodeError:
                return None
    return None
