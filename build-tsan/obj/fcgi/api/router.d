build-tsan/obj/fcgi/api/router.o: fcgi/api/router.c fcgi/api/api.h \
 fcgi/auth.h fcgi/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/engine.h fcgi/env.h fcgi/http.h common/log.h common/util.h
fcgi/api/api.h:
fcgi/auth.h:
fcgi/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/engine.h:
fcgi/env.h:
fcgi/http.h:
common/log.h:
common/util.h:
