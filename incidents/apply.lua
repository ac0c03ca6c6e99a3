-- onescreen: apply one validated wire message atomically (incidents/store.py runs it with EVALSHA).
--
-- KEYS[1] state hash (id -> incident JSON)   KEYS[2] log stream   KEYS[3] stats hash   KEYS[4] audit stream
-- ARGV[1] message JSON: a validated partial update with id, status, ts (+ any of the optional fields)
-- ARGV[2] log MAXLEN (approximate trim)      ARGV[3] max history entries kept
-- ARGV[4] actor label (user:alice, key:erp, publisher, ...; '' = not known)   ARGV[5] way in (http, console,
-- pubsub, ...)   ARGV[6] client address ('' = none)   ARGV[7] audit MAXLEN (approximate trim)
--
-- Every applied change appends one audit entry (actor, via, client, incident, what = created/status/update, from,
-- to, ts, assignee) in the same atomic step, and a status change's history entry is [status, ts, actor] (older
-- entries may have two elements: written before actors were recorded, or with no actor known).
--
-- Returns a two-element array {outcome, detail}:
--   {"applied",   <log entry id>}   state written and one log entry appended
--   {"duplicate", <stored ts>}      stored ts == message ts: nothing written
--   {"stale",     <stored ts>}      stored ts >  message ts: nothing written
--   {"error",     <reason>}         rejected: nothing written. Reasons:
--        "message is not a JSON object" · "message has no id" · "message for id X has no numeric ts" ·
--        "message for id X has no status" · "first message for id X needs lon, lat and category" ·
--        "illegal transition for id X: resolved -> accepted (from resolved only: dispatched, closed)" /
--        "... (cancelled is final)"
--
-- Order of the checks: a message older than (or as old as) the stored state is stale (duplicate) before its
-- status is judged, so late and repeated messages never become illegal transitions. Then the transition
-- (ALLOWED, generated from incidents.model.TRANSITIONS by store.py), then the merge. A rework (resolved/closed
-- -> dispatched) adds 1 to reopened; reopened never drops below what a message says.
--
-- One script = one atomic step, so N server processes applying the same message write state + log exactly once.
--
-- Why the hand-written encoder: Redis' cjson encodes numbers with at most 14 significant digits (epoch ts with
-- microseconds would be rounded, and ts comparisons would then see phantom changes) and encodes an empty table
-- as {} (history must stay a JSON array). Decoding with cjson is exact, so only encoding is done by hand.

local REQUIRED_FIRST = {'lon', 'lat', 'category'}
-- Filled in by incidents/store.py from incidents.model (TRANSITIONS, REWORK_FROM/REWORK_TO); do not edit here.
-- ALLOWED[from][to] = true; ALLOWED_TEXT[from] = the allowed targets as the reason lists them.
local ALLOWED = --[[@ALLOWED]] {}
local ALLOWED_TEXT = --[[@ALLOWED_TEXT]] {}
local REWORK_FROM = --[[@REWORK_FROM]] {}
local REWORK_TO = --[[@REWORK_TO]] ''

-- Never taken from a message: managed here.
local MANAGED = {created_ts = true, history = true}
-- A null in the message for these means "absent", never "clear".
local NOT_NULLABLE = {id = true, status = true, ts = true, lon = true, lat = true, category = true}

local function num(x)
  if x ~= x or x == math.huge or x == -math.huge then
    return 'null'
  end
  if x == math.floor(x) and math.abs(x) < 1e15 then
    return string.format('%d', x)
  end
  -- shortest of 15/16/17 significant digits that reads back as the same double
  for _, fmt in ipairs({'%.15g', '%.16g'}) do
    local s = string.format(fmt, x)
    if tonumber(s) == x then
      return s
    end
  end
  return string.format('%.17g', x)
end

local function value(v)
  local t = type(v)
  if t == 'number' then
    return num(v)
  elseif t == 'string' then
    return cjson.encode(v)
  elseif t == 'boolean' then
    return tostring(v)
  elseif v == cjson.null or v == nil then
    return 'null'
  end
  return cjson.encode(v)
end

local function history_json(h)
  local parts = {}
  for i, pair in ipairs(h) do
    local who = ''
    if type(pair[3]) == 'string' and pair[3] ~= '' then
      who = ',' .. cjson.encode(pair[3])
    end
    parts[i] = '[' .. cjson.encode(tostring(pair[1])) .. ',' .. num(tonumber(pair[2]) or 0) .. who .. ']'
  end
  return '[' .. table.concat(parts, ',') .. ']'
end

local function encode(obj, history)
  local names = {}
  for k, _ in pairs(obj) do
    if k ~= 'history' then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  local parts = {}
  for i, k in ipairs(names) do
    parts[i] = cjson.encode(k) .. ':' .. value(obj[k])
  end
  parts[#parts + 1] = '"history":' .. history_json(history)
  return '{' .. table.concat(parts, ',') .. '}'
end

local function reject(reason)
  redis.call('HINCRBY', KEYS[3], 'invalid', 1)
  return {'error', reason}
end

local ok, msg = pcall(cjson.decode, ARGV[1])
if not ok or type(msg) ~= 'table' then
  return reject('message is not a JSON object')
end
local id = msg['id']
if type(id) ~= 'string' or id == '' then
  return reject('message has no id')
end
local ts = msg['ts']
if type(ts) ~= 'number' then
  return reject('message for id ' .. id .. ' has no numeric ts')
end
local status = msg['status']
if type(status) ~= 'string' or status == '' then
  return reject('message for id ' .. id .. ' has no status')
end

local current = nil
local stored = redis.call('HGET', KEYS[1], id)
if stored then
  local ok2, decoded = pcall(cjson.decode, stored)
  -- A corrupt stored entry is treated as absent, so a complete message repairs it.
  if ok2 and type(decoded) == 'table' and type(decoded['ts']) == 'number' then
    current = decoded
  end
end

if current == nil then
  for _, f in ipairs(REQUIRED_FIRST) do
    if msg[f] == nil or msg[f] == cjson.null then
      return reject('first message for id ' .. id .. ' needs lon, lat and category')
    end
  end
else
  if current['ts'] > ts then
    redis.call('HINCRBY', KEYS[3], 'stale', 1)
    return {'stale', num(current['ts'])}
  elseif current['ts'] == ts then
    redis.call('HINCRBY', KEYS[3], 'duplicate', 1)
    return {'duplicate', num(current['ts'])}
  end
  local from = current['status']
  -- an unknown stored status (corrupt entry) allows anything, so a message can repair it
  if from ~= status and ALLOWED[from] ~= nil and not ALLOWED[from][status] then
    local text = ALLOWED_TEXT[from]
    local why = (text == '') and (from .. ' is final') or ('from ' .. from .. ' only: ' .. text)
    return reject('illegal transition for id ' .. id .. ': ' .. from .. ' -> ' .. status .. ' (' .. why .. ')')
  end
end

local merged = current or {}
local history = {}
if current ~= nil and type(current['history']) == 'table' then
  history = current['history']
end
local previous_status = current and current['status']
local function count(v)
  if v == true then
    return 1
  elseif type(v) == 'number' then
    return v
  end
  return 0
end
local previous_reopened = current and count(current['reopened']) or 0
for k, v in pairs(msg) do
  if not MANAGED[k] and not (v == cjson.null and NOT_NULLABLE[k]) then
    merged[k] = v
  end
end
if current == nil then
  merged['created_ts'] = ts
end
local rework = current ~= nil and REWORK_FROM[previous_status] == true and status == REWORK_TO
if rework or (msg['reopened'] ~= nil and msg['reopened'] ~= cjson.null) then
  local reopened = previous_reopened + (rework and 1 or 0)
  local given = count(msg['reopened'])
  merged['reopened'] = (given > reopened) and given or reopened
end
if current == nil or previous_status ~= status or #history == 0 then
  history[#history + 1] = {status, ts, ARGV[4] or ''}
  local cap = tonumber(ARGV[3]) or 0
  if cap > 1 and #history > cap then
    -- keep the first entry (creation) and the newest cap-1
    local trimmed = {history[1]}
    for i = #history - cap + 2, #history do
      trimmed[#trimmed + 1] = history[i]
    end
    history = trimmed
  end
end

local json = encode(merged, history)
redis.call('HSET', KEYS[1], id, json)
local entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'id', id, 'data', json)
local what = 'update'
if current == nil then
  what = 'created'
elseif previous_status ~= status then
  what = 'status'
end
local assignee = msg['assignee']
if type(assignee) ~= 'string' then
  assignee = ''
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7] or '100000', '*',
  'actor', ARGV[4] or '', 'via', ARGV[5] or '', 'client', ARGV[6] or '', 'incident', id, 'what', what,
  'from', previous_status or '', 'to', status, 'ts', num(ts), 'assignee', assignee, 'log', entry)
redis.call('HINCRBY', KEYS[3], 'accepted', 1)
return {'applied', entry}
