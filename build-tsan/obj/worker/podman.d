build-tsan/obj/worker/podman.o: worker/podman.c worker/extern.h \
 common/buf.h common/stage.h common/util.h common/jsonx.h common/log.h
worker/extern.h:
common/buf.h:
common/stage.h:
common/util.h:
common/jsonx.h:
common/log.h:
