build-tsan/obj/worker/job.o: worker/job.c worker/extern.h common/buf.h \
 common/stage.h common/util.h common/log.h
worker/extern.h:
common/buf.h:
common/stage.h:
common/util.h:
common/log.h:
