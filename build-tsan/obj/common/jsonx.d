build-tsan/obj/common/jsonx.o: common/jsonx.c common/jsonx.h
common/jsonx.h:
