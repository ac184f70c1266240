build-tsan/obj/common/states.o: common/states.c common/states.h
common/states.h:
