"""The defaults of ``detect``, chosen on the IRA-in-Higgs evaluation (README, "Defaults").

A module of its own so that the command line can show them without loading detection.
"""

#: Default windows (seconds) per kind: co-repost and co-mention within 1 minute, 10 minutes and
#: 1 hour (operators differ in speed), and same-minute synchrony. Adding hashtag/link/domain/text
#: lowered recall there (more tests, and organic Higgs has none of them).
DEFAULT_WINDOWS = {"repost": (60.0, 600.0, 3600.0), "mention": (60.0, 600.0, 3600.0),
                   "sync": (60.0,)}
#: Windows of a kind named with ``--kinds`` that has no default of its own.
OTHER_KIND_WINDOWS = (60.0, 600.0)
#: Rounds of the affiliation test (it stops earlier when a round adds nobody; five sufficed on
#: every evaluation week).
AFFILIATION_ROUNDS = 10
