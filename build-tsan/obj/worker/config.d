build-tsan/obj/worker/config.o: worker/config.c worker/extern.h \
 common/buf.h common/stage.h common/util.h
worker/extern.h:
common/buf.h:
common/stage.h:
common/util.h:
