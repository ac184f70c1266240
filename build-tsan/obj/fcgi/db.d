build-tsan/obj/fcgi/db.o: fcgi/db.c /usr/include/mariadb/mysqld_error.h \
 /usr/include/mariadb/errmsg.h fcgi/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 common/log.h
/usr/include/mariadb/mysqld_error.h:
/usr/include/mariadb/errmsg.h:
fcgi/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
common/log.h:
