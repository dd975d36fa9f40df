"""The one base class of the errors a user can fix.

A bad setting, a run directory that is in use, damaged or made with other settings, a diverged run, a
failed paper build: the command line prints `error: <message>` and exits with `exit_code`, with no
traceback (set ARCHE_TRACEBACK=1 to see one). The message must say what is wrong and what to do.
Subclasses also derive from the builtin they used to be (ValueError, RuntimeError), so existing
`except ValueError` code keeps working.
"""


class UserError(Exception):
    exit_code = 2
