build-tsan/obj/tests/unit/test_worker_capture.o: \
 tests/unit/test_worker_capture.c tests/unit/../../worker/extern.h \
 common/buf.h common/stage.h common/util.h common/jsonx.h
tests/unit/../../worker/extern.h:
common/buf.h:
common/stage.h:
common/util.h:
common/jsonx.h:
