/*
 * The benchmark floor: per request, one primary-key SELECT through the
 * same DB layer and the same nginx/TLS/FastCGI path as the API, and a
 * small JSON answer.  The API's small reads are reported as a ratio of
 * this.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>

#include "db.h"
#include "log.h"

static const char *const floor_sql = "SELECT id FROM course WHERE id = ?";

int
main(void)
{
	FCGX_Request	 fx;
	struct db	*db;
	struct db_res	*res;
	const char	*uri, *course;
	int		 found;

	log_init("bench-floor");
	signal(SIGPIPE, SIG_IGN);
	if ((db = db_open_env()) == NULL)
		fatalx("no database");
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fx, 0, 0) != 0)
		fatalx("FCGX init");
	while (FCGX_Accept_r(&fx) >= 0) {
		uri = FCGX_GetParam("DOCUMENT_URI", fx.envp);
		course = uri && strrchr(uri, '/') ? strrchr(uri, '/') + 1 : "";
		found = 0;
		if ((res = db_query(db, floor_sql, "s", course)) != NULL) {
			found = db_res_next(res) == 1;
			db_res_free(res);
		}
		FCGX_FPrintF(fx.out, "Status: 200 OK\r\nContent-Type: "
		    "application/json\r\n\r\n{\"status\":\"success\",\"data\":"
		    "{\"found\":%s}}", found ? "true" : "false");
		FCGX_Finish_r(&fx);
	}
	db_close(db);
	return 0;
}
