build-tsan/obj/worker/spool.o: worker/spool.c worker/extern.h \
 common/buf.h common/stage.h common/util.h common/log.h
worker/extern.h:
common/buf.h:
common/stage.h:
common/util.h:
common/log.h:
