build-tsan/obj/fcgi/engine.o: fcgi/engine.c fcgi/db.h \
 /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/engine.h fcgi/env.h common/jsonx.h common/log.h common/states.h \
 common/util.h
fcgi/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/engine.h:
fcgi/env.h:
common/jsonx.h:
common/log.h:
common/states.h:
common/util.h:
