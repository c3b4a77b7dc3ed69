"""The defaults of ``detect``, chosen on the IRA-in-Higgs evaluation (README, "Defaults").

A module of its own so that the command line can show them without loading detection.
"""

#: Default windows (seconds) per kind: co-repost and co-mention within 1 minute, 10 minutes and
#: 1 hour (operators differ in speed), same-minute synchrony, and near-duplicate text within 1
#: and 10 minutes (it raised pooled recall from 0.62 to 0.64 at a slightly higher precision;
#: hashtag/link/domain/exact text changed nothing once affiliation ran).
DEFAULT_WINDOWS = {"repost": (60.0, 600.0, 3600.0), "mention": (60.0, 600.0, 3600.0),
                   "sync": (60.0,), "similar_text": (60.0, 600.0)}
#: Windows of a kind named with ``--kinds`` that has no default of its own.
OTHER_KIND_WINDOWS = (60.0, 600.0)
#: Rounds of the affiliation test (it stops earlier when a round adds nobody; five sufficed on
#: every evaluation week).
AFFILIATION_ROUNDS = 10
