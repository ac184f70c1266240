/*
 * auth_decide: what a token's rows allow.  The table is the contract of
 * README "Contract decisions" (no course enumeration, per-worker
 * cluster tokens) in its smallest form.
 */
#include "auth.h"
#include "harness.h"
#include "states.h"

#define NG(a)	(sizeof(a) / sizeof((a)[0]))

struct auth_case {
	const char		*what;
	const struct auth_grant	*g;
	size_t			 n;
	const char		*scope;
	enum auth_need		 need;
	int			 want;
};

static const struct auth_grant admin_a[] = { { TOKEN_ADMIN, "a", NULL } };
static const struct auth_grant query_a[] = { { TOKEN_QUERY, "a", NULL } };
static const struct auth_grant shared[] = {
	{ TOKEN_QUERY, "a", NULL }, { TOKEN_ADMIN, "b", NULL },
};
static const struct auth_grant plain[] = { { TOKEN_CLUSTER, NULL, NULL } };
static const struct auth_grant bound[] = { { TOKEN_CLUSTER, NULL, "w1" } };
static const struct auth_grant bound2[] = {
	{ TOKEN_CLUSTER, NULL, "w1" }, { TOKEN_CLUSTER, NULL, "w2" },
};

static const struct auth_case cases[] = {
	{ "no rows, any course", NULL, 0, "a", AUTH_VIEW, 401 },
	{ "no rows, worker", NULL, 0, "w1", AUTH_CLUSTER, 401 },
	{ "admin on its course", admin_a, 1, "a", AUTH_ADMIN, 0 },
	{ "admin views its course", admin_a, 1, "a", AUTH_VIEW, 0 },
	{ "admin on another course", admin_a, 1, "b", AUTH_ADMIN, 401 },
	{ "admin on an unknown course", admin_a, 1, "zz", AUTH_VIEW, 401 },
	{ "query views", query_a, 1, "a", AUTH_VIEW, 0 },
	{ "query on admin route", query_a, 1, "a", AUTH_ADMIN, 403 },
	{ "query elsewhere", query_a, 1, "b", AUTH_ADMIN, 401 },
	{ "course token on worker route", admin_a, 1, "w1", AUTH_CLUSTER, 403 },
	{ "shared: admin of b", shared, NG(shared), "b", AUTH_ADMIN, 0 },
	{ "shared: query of a", shared, NG(shared), "a", AUTH_ADMIN, 403 },
	{ "shared: neither", shared, NG(shared), "c", AUTH_VIEW, 401 },
	{ "cluster on course route", plain, 1, "a", AUTH_VIEW, 401 },
	{ "plain cluster, any id", plain, 1, "anyone", AUTH_CLUSTER, 0 },
	{ "bound, own id", bound, 1, "w1", AUTH_CLUSTER, 0 },
	{ "bound, other id", bound, 1, "w2", AUTH_CLUSTER, 403 },
	{ "bound twice, second id", bound2, NG(bound2), "w2", AUTH_CLUSTER, 0 },
	{ "bound twice, third id", bound2, NG(bound2), "w3", AUTH_CLUSTER, 403 },
	{ "no scope", admin_a, 1, NULL, AUTH_ADMIN, 401 },
};

int
main(void)
{
	char	 err[128];
	size_t	 i;
	int	 rc;

	for (i = 0; i < NG(cases); i++) {
		err[0] = '\0';
		rc = auth_decide(cases[i].g, cases[i].n, cases[i].need,
		    cases[i].scope, err, sizeof(err));
		T_CHECK_MSG(rc == cases[i].want, "%s: got %d, want %d",
		    cases[i].what, rc, cases[i].want);
		T_CHECK_MSG(rc == 0 || err[0] != '\0', "%s: no message",
		    cases[i].what);
	}
	/* 401 says the same whatever the course: nothing to enumerate. */
	(void)auth_decide(admin_a, 1, AUTH_VIEW, "b", err, sizeof(err));
	T_CHECK(strcmp(err, "invalid token") == 0);
	(void)auth_decide(NULL, 0, AUTH_VIEW, "zz", err, sizeof(err));
	T_CHECK(strcmp(err, "invalid token") == 0);
	return T_DONE();
}
