#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jsonx.h"
#include "log.h"
#include "stage.h"

enum config_stmt {
	CONFIG_GET,
	CONFIG_PUT,
	CONFIG__MAX
};

static const char *const config_sql[CONFIG__MAX] = {
	/* CONFIG_GET */
	"SELECT config FROM assignment_config WHERE course_id = ? AND assignment_id = ?",
	/* CONFIG_PUT: a new upload replaces the old config whole. */
	"INSERT INTO assignment_config (course_id, assignment_id, config)"
	" VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE config = VALUES(config),"
	" updated_at = CURRENT_TIMESTAMP(6)",
};

struct config_row {		/* CONFIG_GET */
	json_t		*config;
};

static const struct db_col config_cols[] = {
	DB_JSON(struct config_row, config),
};

/*
 * The config as uploaded, parsed (prototype in api.h).
 * Shared with the run handler.
 */
int
config_load(struct db *db, const char *course, const char *assignment,
    json_t **out)
{
	struct config_row	 row = { NULL };
	int			 rc;

	*out = NULL;
	rc = DB_QUERY_ROW(db, config_sql[CONFIG_GET], config_cols, &row, "ss",
	    course, assignment);
	if (rc == 1 && (*out = row.config) == NULL)
		rc = -1;
	return rc;
}

void
h_config_get(struct call *c)
{
	json_t	*config;
	int	 rc;

	rc = config_load(c->db, c->course, c->id, &config);
	if (rc == 1)
		http_send_data(c->r, 200, config);
	else if (rc == 0)
		http_send_fail(c->r, 404, "assignment configuration not found");
	else
		http_send_fail(c->r, 500, "could not read the configuration");
}

void
h_config_post(struct call *c)
{
	json_t	*config;
	char	 err[256], *text = NULL;

	config = jsonx_parse_object(c->r->body, c->r->body_len, err, sizeof(err));
	if (config == NULL) {
		http_send_fail(c->r, 400, "%s", err);
		return;
	}
	if (config_valid(config, err, sizeof(err)) == -1) {
		http_send_fail(c->r, 400, "%s", err);
		goto out;
	}
	if ((text = jsonx_dump(config)) == NULL) {
		http_send_fail(c->r, 500, "out of memory");
		goto out;
	}
	if (db_exec(c->db, config_sql[CONFIG_PUT], NULL, "sss", c->course,
	    c->id, text) == -1) {
		http_send_fail(c->r, 500, "could not store the configuration");
		goto out;
	}
	http_send_data(c->r, 200, NULL);
out:
	free(text);
	json_decref(config);
}
