build-tsan/obj/tests/unit/test_sse_wire.o: tests/unit/test_sse_wire.c \
 tests/unit/harness.h fcgi/sse/sse.h common/util.h common/states.h
tests/unit/harness.h:
fcgi/sse/sse.h:
common/util.h:
common/states.h:
