/* enqueue_lockhold - hold the write lock of a SQLite file for a test.
 *
 *   enqueue_lockhold DB < control-fifo > marker-file
 *
 * Takes the write lock (BEGIN IMMEDIATE), prints "locked" and flushes, then
 * holds it until standard input reaches end of file, and rolls back. Tests
 * wait for the marker instead of sleeping. */
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: enqueue_lockhold DB\n", stderr);
		return 64;
	}
	sqlite3 *db;
	if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "enqueue_lockhold: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return 75;
	}
	if (puts("locked") == EOF || fflush(stdout) != 0)
		return 74;
	char b[256];
	while (read(0, b, sizeof b) > 0)
		;
	int rc = sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : 70;
}
