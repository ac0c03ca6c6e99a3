"""Access: who may see and do what (README "Access").

- ``actor``: the ``Actor`` a request acts as (a user, a wall link, later an API key; or anonymous);
- ``policy``: which role may do which action — the one place those rules live (``can``);
- ``accounts``: local accounts in Redis (argon2 hashes), ``sessions``: login sessions and the login rate limit,
  ``walls``: signed, revocable wall links;
- ``service``: ``Access``, the three stores together and ``actor_for`` (cookie, SSO header, wall link);
- ``gate``: the ASGI middleware that attaches the actor to every request and refuses what it may not reach;
- ``login``: the ``/login`` page and ``/logout``; ``cli``: ``onescreen user …`` and ``onescreen wall-link …``.
"""
