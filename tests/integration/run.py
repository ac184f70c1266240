#!/usr/bin/python3
"""Run the integration tests against a live stack.

    run.py STACK_ENV [FILTER]

STACK_ENV is DIR/stack.env (or DIR) written by `scripts/stack.sh up DIR`.
Every tests/integration/test_*.py module exposes tests(env) returning a
list of (name, callable(env)); a test fails by raising.  FILTER keeps the
tests whose "module.name" contains it.  Prints `ok NAME` or
`FAIL NAME: reason` plus the traceback, then exactly one final line
`N passed, N failed`; exits 1 if anything failed.
"""

import glob
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

import lib  # noqa: E402


def load_module(path):
    name = os.path.basename(path)[:-3]
    if name in sys.modules:         # already imported by another module
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main():
    if len(sys.argv) < 2 or len(sys.argv) > 3:
        sys.stderr.write("usage: run.py STACK_ENV [FILTER]\n")
        return 2
    try:
        env = lib.init(sys.argv[1])
    except (OSError, KeyError, ValueError) as e:
        print("FAIL setup: cannot read %s: %s" % (sys.argv[1], e))
        print("0 passed, 1 failed")
        return 1
    filt = sys.argv[2] if len(sys.argv) == 3 else None
    verbose = os.environ.get("BROADWAY_TEST_VERBOSE") == "1"
    passed = failed = 0

    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        mname = os.path.basename(path)[:-3]
        short = mname[len("test_"):]
        try:
            mod = load_module(path)
            cases = list(mod.tests(env))
        except Exception as e:
            if filt and filt not in short:
                continue
            print("FAIL %s: could not load: %s: %s" % (short, type(e).__name__, e))
            traceback.print_exc(file=sys.stdout)
            failed += 1
            continue
        for name, fn in cases:
            full = "%s.%s" % (short, name)
            if filt and filt not in full:
                continue
            t0 = time.time()
            try:
                fn(env)
            except BaseException as e:  # noqa: B902 - report and go on
                if isinstance(e, KeyboardInterrupt):
                    raise
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                print("FAIL %s: %s" % (full, reason[:500]))
                traceback.print_exc(file=sys.stdout)
                failed += 1
            else:
                if verbose:
                    print("ok %s (%.1fs)" % (full, time.time() - t0))
                else:
                    print("ok %s" % full)
                passed += 1
            finally:
                lib.cleanup()
                lib.drop_connection()
            sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
