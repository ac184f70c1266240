build-tsan/obj/fcgi/admin/main.o: fcgi/admin/main.c fcgi/admin/admin.h \
 common/buf.h fcgi/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 common/log.h
fcgi/admin/admin.h:
common/buf.h:
fcgi/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
common/log.h:
