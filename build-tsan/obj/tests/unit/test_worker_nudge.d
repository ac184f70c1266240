build-tsan/obj/tests/unit/test_worker_nudge.o: \
 tests/unit/test_worker_nudge.c tests/unit/../../worker/extern.h \
 common/buf.h common/stage.h common/util.h tests/unit/harness.h
tests/unit/../../worker/extern.h:
common/buf.h:
common/stage.h:
common/util.h:
tests/unit/harness.h:
