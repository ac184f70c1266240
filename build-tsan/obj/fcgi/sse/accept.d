build-tsan/obj/fcgi/sse/accept.o: fcgi/sse/accept.c \
 /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/auth.h fcgi/db.h fcgi/http.h common/log.h fcgi/sse/sse.h \
 common/util.h common/states.h
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/auth.h:
fcgi/db.h:
fcgi/http.h:
common/log.h:
fcgi/sse/sse.h:
common/util.h:
common/states.h:
