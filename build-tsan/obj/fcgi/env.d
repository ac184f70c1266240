build-tsan/obj/fcgi/env.o: fcgi/env.c fcgi/engine.h fcgi/env.h \
 common/states.h
fcgi/engine.h:
fcgi/env.h:
common/states.h:
