build-tsan/obj/worker/nudge.o: worker/nudge.c worker/extern.h \
 common/buf.h common/stage.h common/util.h common/log.h
worker/extern.h:
common/buf.h:
common/stage.h:
common/util.h:
common/log.h:
