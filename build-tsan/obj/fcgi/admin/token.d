build-tsan/obj/fcgi/admin/token.o: fcgi/admin/token.c fcgi/admin/admin.h \
 fcgi/auth.h fcgi/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 common/jsonx.h common/states.h common/util.h
fcgi/admin/admin.h:
fcgi/auth.h:
fcgi/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
common/jsonx.h:
common/states.h:
common/util.h:
