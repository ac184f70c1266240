build-tsan/obj/tests/unit/test_engine_env.o: tests/unit/test_engine_env.c \
 fcgi/engine.h fcgi/env.h tests/unit/harness.h common/states.h
fcgi/engine.h:
fcgi/env.h:
tests/unit/harness.h:
common/states.h:
