build-tsan/obj/fcgi/sse/wire.o: fcgi/sse/wire.c fcgi/sse/sse.h \
 common/util.h common/states.h
fcgi/sse/sse.h:
common/util.h:
common/states.h:
