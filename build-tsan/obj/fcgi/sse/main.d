build-tsan/obj/fcgi/sse/main.o: fcgi/sse/main.c \
 /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/engine.h common/log.h fcgi/sse/sse.h common/util.h
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/engine.h:
common/log.h:
fcgi/sse/sse.h:
common/util.h:
