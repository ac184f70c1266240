/*
 * Unit tests for common/: bounded buffers, ids and numbers, memory
 * sizes, and the stage and grading-config schema.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "stage.h"
#include "util.h"
#include "harness.h"

static void
test_buf(void)
{
	struct buf	 b;
	char		 big[600];
	char		*s;

	buf_init(&b, 8);
	T_CHECK(buf_puts(&b, "1234") == 0);
	T_CHECK(buf_append(&b, "5678", 4) == 0);
	T_CHECK(b.len == 8 && strcmp(b.data, "12345678") == 0);
	/* Past the cap: refused, buffer unchanged. */
	T_CHECK(buf_append(&b, "9", 1) == -1);
	T_CHECK(b.len == 8 && strcmp(b.data, "12345678") == 0);
	T_CHECK(buf_printf(&b, "%d", 1) == -1);
	T_CHECK(b.len == 8);
	/* A huge length must not wrap around the cap check. */
	T_CHECK(buf_append(&b, "x", SIZE_MAX) == -1);
	buf_reset(&b);
	T_CHECK(b.len == 0 && b.data[0] == '\0');
	T_CHECK(buf_printf(&b, "%s-%d", "ab", 7) == 0);
	T_CHECK_STR(b.data, "ab-7");
	s = buf_detach(&b);
	T_CHECK_STR(s, "ab-7");
	T_CHECK(b.data == NULL && b.len == 0);
	free(s);
	buf_free(&b);
	buf_free(NULL);

	/* buf_printf longer than its stack buffer. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 1000);
	T_CHECK(buf_printf(&b, "%s!", big) == 0);
	T_CHECK(b.len == sizeof(big));
	T_CHECK(b.data[b.len - 1] == '!' && b.data[b.len] == '\0');
	T_CHECK(buf_printf(&b, "%s", big) == -1);
	T_CHECK(b.len == sizeof(big));
	buf_free(&b);

	/* An empty buffer detaches as "". */
	buf_init(&b, 4);
	s = buf_detach(&b);
	T_CHECK(s != NULL && s[0] == '\0');
	free(s);
}

static void
test_id_valid(void)
{
	char	 id[ID_MAX + 2];

	T_CHECK(id_valid("a") == 1);
	T_CHECK(id_valid("cs-241_fall.2026") == 1);
	T_CHECK(id_valid("AZaz09") == 1);
	T_CHECK(id_valid("") == 0);
	T_CHECK(id_valid(NULL) == 0);
	T_CHECK(id_valid("a/b") == 0);
	T_CHECK(id_valid("a b") == 0);
	T_CHECK(id_valid("..%2f") == 0);
	T_CHECK(id_valid("caf\xc3\xa9") == 0);
	T_CHECK(id_valid("a\n") == 0);
	memset(id, 'a', ID_MAX);
	id[ID_MAX] = '\0';
	T_CHECK(id_valid(id) == 1);
	id[ID_MAX] = 'a';
	id[ID_MAX + 1] = '\0';
	T_CHECK(id_valid(id) == 0);
}

static void
test_parse_int64(void)
{
	int64_t	 v = 0;

	T_CHECK(parse_int64("42", 0, 100, &v) == 0 && v == 42);
	T_CHECK(parse_int64("-5", -10, 10, &v) == 0 && v == -5);
	T_CHECK(parse_int64("0", 0, 0, &v) == 0 && v == 0);
	T_CHECK(parse_int64("9223372036854775807", 0, INT64_MAX, &v) == 0 &&
	    v == INT64_MAX);
	v = 7;
	T_CHECK(parse_int64("9223372036854775808", 0, INT64_MAX, &v) == -1);
	T_CHECK(v == 7);	/* untouched on failure */
	T_CHECK(parse_int64("-5", 0, 10, &v) == -1);
	T_CHECK(parse_int64("101", 0, 100, &v) == -1);
	T_CHECK(parse_int64("", 0, 100, &v) == -1);
	T_CHECK(parse_int64(NULL, 0, 100, &v) == -1);
	T_CHECK(parse_int64("12a", 0, 100, &v) == -1);
	T_CHECK(parse_int64("1.5", 0, 100, &v) == -1);
	T_CHECK(parse_int64("0x10", 0, 100, &v) == -1);
}

static void
test_misc_util(void)
{
	char	 id[PUBLIC_ID_LEN + 1], id2[PUBLIC_ID_LEN + 1], small[4];
	size_t	 i;
	int	 hex = 1;

	T_CHECK(public_id_new(id) == 0);
	T_CHECK(strlen(id) == PUBLIC_ID_LEN);
	for (i = 0; i < PUBLIC_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			hex = 0;
	T_CHECK(hex);
	T_CHECK(public_id_new(id2) == 0 && strcmp(id, id2) != 0);
	T_CHECK(id_valid(id));
	T_CHECK(copy_str(small, sizeof(small), "abc") == 0);
	T_CHECK_STR(small, "abc");
	T_CHECK(copy_str(small, sizeof(small), "abcd") == -1);
	T_CHECK(copy_str(small, 0, "") == -1);
}

static void
test_memory_parse(void)
{
	T_CHECK(memory_parse("512m") == 512LL * 1024 * 1024);
	T_CHECK(memory_parse("2g") == 2LL * 1024 * 1024 * 1024);
	T_CHECK(memory_parse("2G") == 2LL * 1024 * 1024 * 1024);
	T_CHECK(memory_parse("64k") == 64 * 1024);
	T_CHECK(memory_parse("1048576") == 1048576);
	T_CHECK(memory_parse("100b") == 100);
	T_CHECK(memory_parse("") == -1);
	T_CHECK(memory_parse("m") == -1);
	T_CHECK(memory_parse("12x") == -1);
	T_CHECK(memory_parse("-1m") == -1);
	T_CHECK(memory_parse("1.5g") == -1);
	T_CHECK(memory_parse(" 1g") == -1);
	T_CHECK(memory_parse("99999999999g") == -1);	/* overflows int64 */
	T_CHECK(memory_parse("999999999999999999999") == -1);
}

/* stage_valid on JSON text; 0/-1, err filled. */
static int
stage_str(const char *text, char *err, size_t errlen)
{
	json_t	*j;
	int	 rc;

	err[0] = '\0';
	if ((j = json_loads(text, JSON_DECODE_ANY, NULL)) == NULL) {
		snprintf(err, errlen, "test JSON does not parse");
		return -2;
	}
	rc = stage_valid(j, "stage", err, errlen);
	json_decref(j);
	return rc;
}

static int
config_str(const char *text, char *err, size_t errlen)
{
	json_t	*j;
	int	 rc;

	err[0] = '\0';
	if ((j = json_loads(text, JSON_DECODE_ANY, NULL)) == NULL) {
		snprintf(err, errlen, "test JSON does not parse");
		return -2;
	}
	rc = config_valid(j, err, errlen);
	json_decref(j);
	return rc;
}

static void
test_stage_valid(void)
{
	static const char *const good[] = {
		"{\"image\": \"alpine\"}",
		"{\"image\": \"localhost/bb:1\"}",
		"{\"image\": \"registry.example.com/a/b@sha256:00ff\"}",
		"{\"image\": \"a\", \"env\": {\"X\": \"1\", \"Y\": \"\"},"
		" \"entrypoint\": [\"/bin/sh\", \"-c\", \"echo hi\"],"
		" \"networking\": false, \"privileged\": false,"
		" \"hostname\": \"grader-1\", \"timeout\": 2.5,"
		" \"memory\": \"64m\", \"cpuset_cpus\": \"0-1\", \"logs\": true}",
		"{\"image\": \"a\", \"timeout\": 86400}",
		NULL
	};
	static const struct {
		const char	*json;
		const char	*msg;	/* a substring of the error */
	} bad[] = {
		{ "null", "must be an object" },
		{ "[]", "must be an object" },
		{ "{}", "\"image\" is required" },
		{ "{\"image\": 5}", "\"image\" is required" },
		{ "{\"image\": \"\"}", "\"image\" must be" },
		{ "{\"image\": \"a b\"}", "\"image\" must be" },
		{ "{\"image\": \"a;rm\"}", "\"image\" must be" },
		{ "{\"image\": \"a\", \"imgae\": \"b\"}", "unknown key \"imgae\"" },
		{ "{\"image\": \"a\", \"env\": {\"X\": 1}}", "\"X\" must be a string" },
		{ "{\"image\": \"a\", \"env\": {\"X\": null}}", "\"X\" must be a string" },
		{ "{\"image\": \"a\", \"env\": [\"X=1\"]}", "must be an object" },
		{ "{\"image\": \"a\", \"env\": {\"A=B\": \"1\"}}", "invalid variable name" },
		{ "{\"image\": \"a\", \"env\": {\"\": \"1\"}}", "invalid variable name" },
		{ "{\"image\": \"a\", \"entrypoint\": []}", "entrypoint" },
		{ "{\"image\": \"a\", \"entrypoint\": \"sh\"}", "entrypoint" },
		{ "{\"image\": \"a\", \"entrypoint\": [\"sh\", 1]}", "entrypoint[1]" },
		{ "{\"image\": \"a\", \"networking\": \"yes\"}", "true or false" },
		{ "{\"image\": \"a\", \"privileged\": 1}", "true or false" },
		{ "{\"image\": \"a\", \"logs\": null}", "true or false" },
		{ "{\"image\": \"a\", \"hostname\": \"a_b\"}", "hostname" },
		{ "{\"image\": \"a\", \"hostname\": \"\"}", "hostname" },
		{ "{\"image\": \"a\", \"timeout\": 0}", "timeout" },
		{ "{\"image\": \"a\", \"timeout\": -1}", "timeout" },
		{ "{\"image\": \"a\", \"timeout\": 86401}", "timeout" },
		{ "{\"image\": \"a\", \"timeout\": \"30\"}", "timeout" },
		{ "{\"image\": \"a\", \"memory\": \"1m\"}", "memory" },
		{ "{\"image\": \"a\", \"memory\": \"lots\"}", "memory" },
		{ "{\"image\": \"a\", \"memory\": 1073741824}", "memory" },
		{ "{\"image\": \"a\", \"cpuset_cpus\": \"0;1\"}", "cpuset_cpus" },
		{ "{\"image\": \"a\", \"cpuset_cpus\": 0}", "cpuset_cpus" },
	};
	char	 err[512];
	size_t	 i;
	int	 rc;

	for (i = 0; good[i] != NULL; i++) {
		rc = stage_str(good[i], err, sizeof(err));
		T_CHECK_MSG(rc == 0, "good stage %zu rejected: %s", i, err);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = stage_str(bad[i].json, err, sizeof(err));
		T_CHECK_MSG(rc == -1, "bad stage %s accepted (rc %d)",
		    bad[i].json, rc);
		T_CHECK_MSG(strstr(err, bad[i].msg) != NULL,
		    "%s: message \"%s\" lacks \"%s\"", bad[i].json, err,
		    bad[i].msg);
	}
}

static void
test_stage_opts(void)
{
	struct stage_opts	 o;
	json_t			*j;
	char			 err[256];

	j = json_loads("{\"image\": \"alpine\"}", 0, NULL);
	T_CHECK(j != NULL && stage_opts_read(j, &o, err, sizeof(err)) == 0);
	T_CHECK_STR(o.image, "alpine");
	T_CHECK(o.timeout == STAGE_DEFAULT_TIMEOUT);
	T_CHECK_STR(o.memory, STAGE_DEFAULT_MEMORY);
	T_CHECK(o.memory_bytes == 2LL * 1024 * 1024 * 1024);
	T_CHECK_STR(o.hostname, STAGE_DEFAULT_HOSTNAME);
	T_CHECK(o.networking == 0 && o.privileged == 0 && o.logs == 1);
	T_CHECK(o.env == NULL && o.entrypoint == NULL && o.cpuset_cpus == NULL);
	json_decref(j);

	j = json_loads("{\"image\": \"b\", \"logs\": false, \"networking\": true,"
	    " \"timeout\": 3, \"memory\": \"128m\", \"hostname\": \"h\"}", 0, NULL);
	T_CHECK(j != NULL && stage_opts_read(j, &o, err, sizeof(err)) == 0);
	T_CHECK(o.logs == 0 && o.networking == 1 && o.timeout == 3.0);
	T_CHECK(o.memory_bytes == 128LL * 1024 * 1024);
	T_CHECK_STR(o.hostname, "h");
	json_decref(j);

	j = json_loads("{\"image\": \"b\", \"bogus\": 1}", 0, NULL);
	T_CHECK(j != NULL && stage_opts_read(j, &o, err, sizeof(err)) == -1);
	json_decref(j);
}

static void
test_config_valid(void)
{
	static const char *const good[] = {
		"{\"student_pipeline\": [{\"image\": \"a\"}]}",
		"{\"student_pipeline\": [{\"image\": \"a\"}, {\"image\": \"b\"}],"
		" \"pre_processing_pipeline\": [{\"image\": \"p\"}],"
		" \"post_processing_pipeline\": [{\"image\": \"q\"}],"
		" \"env\": {\"A\": \"1\"}}",
		/* null means "no such pipeline" / no env */
		"{\"student_pipeline\": [{\"image\": \"a\"}],"
		" \"pre_processing_pipeline\": null,"
		" \"post_processing_pipeline\": null, \"env\": null}",
		NULL
	};
	static const struct {
		const char	*json;
		const char	*msg;
	} bad[] = {
		{ "[]", "must be an object" },
		{ "null", "must be an object" },
		{ "{}", "\"student_pipeline\" is required" },
		{ "{\"student_pipeline\": []}", "student_pipeline must be an array of 1.." },
		{ "{\"student_pipeline\": {}}", "student_pipeline must be an array" },
		{ "{\"student_pipeline\": null}", "student_pipeline must be an array" },
		{ "{\"student_pipeline\": [null]}", "student_pipeline[0] must be an object" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}, null]}",
		    "student_pipeline[1] must be an object" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}], \"colour\": 1}",
		    "unknown key \"colour\"" },
		{ "{\"student_pipeline\": [{\"image\": \"a\", \"tiemout\": 1}]}",
		    "unknown key \"tiemout\" in student_pipeline[0]" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}],"
		    " \"pre_processing_pipeline\": []}", "pre_processing_pipeline" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}],"
		    " \"post_processing_pipeline\": [{}]}",
		    "post_processing_pipeline[0]: \"image\" is required" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}], \"env\": {\"A\": 1}}",
		    "\"A\" must be a string" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}], \"env\": {\"A\": true}}",
		    "\"A\" must be a string" },
		{ "{\"student_pipeline\": [{\"image\": \"a\"}], \"env\": \"A=1\"}",
		    "env must be an object" },
		{ "{\"student_pipeline\": [{\"image\": \"a\","
		    " \"env\": {\"B\": {\"x\": 1}}}]}", "\"B\" must be a string" },
	};
	char	 err[512], text[4096];
	size_t	 i, n;
	int	 rc;

	for (i = 0; good[i] != NULL; i++) {
		rc = config_str(good[i], err, sizeof(err));
		T_CHECK_MSG(rc == 0, "good config %zu rejected: %s", i, err);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = config_str(bad[i].json, err, sizeof(err));
		T_CHECK_MSG(rc == -1, "bad config %s accepted (rc %d)",
		    bad[i].json, rc);
		T_CHECK_MSG(strstr(err, bad[i].msg) != NULL,
		    "%s: message \"%s\" lacks \"%s\"", bad[i].json, err,
		    bad[i].msg);
	}

	/* At most PIPELINE_MAX_STAGES stages. */
	n = (size_t)snprintf(text, sizeof(text), "{\"student_pipeline\": [");
	for (i = 0; i <= PIPELINE_MAX_STAGES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "%s{\"image\": \"a\"}", i ? ", " : "");
	snprintf(text + n, sizeof(text) - n, "]}");
	T_CHECK(config_str(text, err, sizeof(err)) == -1);
	/* Exactly the maximum is fine. */
	n = (size_t)snprintf(text, sizeof(text), "{\"student_pipeline\": [");
	for (i = 0; i < PIPELINE_MAX_STAGES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "%s{\"image\": \"a\"}", i ? ", " : "");
	snprintf(text + n, sizeof(text) - n, "]}");
	T_CHECK_MSG(config_str(text, err, sizeof(err)) == 0, "%s", err);
}

int
main(void)
{
	test_buf();
	test_id_valid();
	test_parse_int64();
	test_misc_util();
	test_memory_parse();
	test_stage_valid();
	test_stage_opts();
	test_config_valid();
	return T_DONE();
}
