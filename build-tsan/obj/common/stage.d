build-tsan/obj/common/stage.o: common/stage.c common/jsonx.h \
 common/stage.h
common/jsonx.h:
common/stage.h:
