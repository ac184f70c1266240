build-tsan/obj/fcgi/admin/migrate.o: fcgi/admin/migrate.c \
 fcgi/admin/admin.h fcgi/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 common/log.h common/util.h
fcgi/admin/admin.h:
fcgi/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
common/log.h:
common/util.h:
