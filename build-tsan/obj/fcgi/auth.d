build-tsan/obj/fcgi/auth.o: fcgi/auth.c fcgi/auth.h fcgi/db.h \
 /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 common/log.h common/states.h common/util.h
fcgi/auth.h:
fcgi/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
common/log.h:
common/states.h:
common/util.h:
