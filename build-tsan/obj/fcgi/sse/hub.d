build-tsan/obj/fcgi/sse/hub.o: fcgi/sse/hub.c \
 /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/db.h common/log.h fcgi/sse/sse.h common/util.h common/states.h
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/db.h:
common/log.h:
fcgi/sse/sse.h:
common/util.h:
common/states.h:
