build-tsan/obj/worker/capture.o: worker/capture.c worker/extern.h \
 common/buf.h common/stage.h common/util.h
worker/extern.h:
common/buf.h:
common/stage.h:
common/util.h:
