build-tsan/obj/fcgi/http.o: fcgi/http.c fcgi/http.h common/jsonx.h \
 common/log.h common/util.h
fcgi/http.h:
common/jsonx.h:
common/log.h:
common/util.h:
