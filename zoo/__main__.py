"""``bayes-zoo`` and ``python -m bayes_zoo``: the console entry, which starts :func:`bayes_zoo.cli.main`.

It imports only ``signal`` and ``sys`` before the CLI, so that Ctrl-C is answered with one line and exit
status 130 even while the CLI's own modules are being imported (the CLI handles it from then on), and it
ignores Ctrl-C once :func:`~bayes_zoo.cli.main` has returned: the verdict is printed and the results are in
place, and a Ctrl-C during the interpreter's shutdown (about a second, while joblib, PyMC and matplotlib clean
up) must not turn the verdict's exit status into 130.  Only Python's own start-up, before this module runs,
is outside its reach.
"""

import signal
import sys

#: Exit status of an interrupted run (also ``bayes_zoo.cli.EXIT_INTERRUPTED``).
EXIT_INTERRUPTED = 130


def main() -> int:
    """Run the ``bayes-zoo`` command line on ``sys.argv``; returns its exit status (see :mod:`bayes_zoo.cli`)."""
    try:
        from bayes_zoo.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stdout.write("interrupted; nothing was written\n")
        return EXIT_INTERRUPTED
    status = cli_main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return status


if __name__ == "__main__":
    sys.exit(main())
