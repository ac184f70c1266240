build-tsan/obj/tests/unit/test_common.o: tests/unit/test_common.c \
 common/buf.h common/stage.h common/util.h tests/unit/harness.h
common/buf.h:
common/stage.h:
common/util.h:
tests/unit/harness.h:
