/* wallet.c - the outbox pattern from C: change a business row and append
 * the event announcing it in ONE transaction (outbox(5), lib/outbox.h).
 *
 *   wallet DB WALLET AMOUNT
 *
 * Creates the wallets table when missing, adds AMOUNT (may be negative) to
 * WALLET's balance (a new wallet starts at 0) and appends a FundsAddedEvent
 * or FundsWithdrawnEvent to the outbox. A balance that would go below zero
 * fails the CHECK constraint: the transaction is rolled back and neither
 * the balance nor the event is written. Prints the event id and the new
 * balance on success. Exit statuses as every tool (exitcode.h). */
#include "cloudevent.h"
#include "diag.h"
#include "exitcode.h"
#include "outbox.h"
#include "timefmt.h"
#include "uuid7.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The application's own statements, on the connection the outbox lends. */
static int update_balance(sqlite3 *db, const char *wallet, long long amount, long long *balance)
{
	static const char *const sql[] = {
		"CREATE TABLE IF NOT EXISTS wallets (id TEXT PRIMARY KEY, "
		"balance INTEGER NOT NULL CHECK (balance >= 0))",
		"INSERT INTO wallets (id, balance) VALUES (?1, 0) ON CONFLICT (id) DO NOTHING",
		"UPDATE wallets SET balance = balance + ?2 WHERE id = ?1 RETURNING balance",
	};
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		sqlite3_stmt *st;
		int rc = sqlite3_prepare_v2(db, sql[i], -1, &st, NULL);
		if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 1)
			rc = sqlite3_bind_text(st, 1, wallet, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 2)
			rc = sqlite3_bind_int64(st, 2, amount);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW) {
				*balance = sqlite3_column_int64(st, 0);
				rc = sqlite3_step(st);
			}
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		if (rc != SQLITE_OK) {
			diag_error("%s", sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return EXIT_DATAERR;
		}
		sqlite3_finalize(st);
	}
	return 0;
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	if (argc != 4) {
		fputs("usage: wallet DB WALLET AMOUNT\n", stderr);
		return EXIT_USAGE;
	}
	const char *wallet = argv[2];
	char *end;
	long long amount = strtoll(argv[3], &end, 10);
	if (*end || end == argv[3] || strlen(wallet) > 64 || strpbrk(wallet, "\"\\")) {
		fputs("usage: wallet DB WALLET AMOUNT (a plain wallet id, an integer)\n", stderr);
		return EXIT_USAGE;
	}

	errinfo err = { 0 };
	outbox *ob = outbox_open(argv[1], NULL, &err);
	if (!ob) {
		diag_errinfo(&err);
		return err.code;
	}
	char id[UUID_STR_LEN + 1], now[TIMEFMT_MICROS_LEN + 1];
	if (uuid7_generate(id) != 0) {
		diag_error("no random source");
		outbox_close(ob);
		return EXIT_SOFTWARE;
	}
	rfc3339_format_us(timefmt_now_us(), now);
	char event[1024];
	snprintf(event, sizeof event,
		 "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/wallet-hub\","
		 "\"type\":\"%s\",\"subject\":\"%s\",\"time\":\"%s\","
		 "\"datacontenttype\":\"application/json\",\"partitionkey\":\"%s\","
		 "\"data\":{\"walletId\":\"%s\",\"amount\":%lld}}",
		 id, amount < 0 ? "FundsWithdrawnEvent" : "FundsAddedEvent", wallet, now, wallet,
		 wallet, amount < 0 ? -amount : amount);

	long long balance = 0;
	int status = outbox_begin(ob, &err);
	if (status == 0) {
		status = update_balance(outbox_db(ob), wallet, amount, &balance);
		if (status == 0)
			status = outbox_append_json(ob, event, strlen(event), NULL, &err);
		if (status == 0)
			status = outbox_commit(ob, &err);
		else
			outbox_rollback(ob); /* the balance change goes too */
	}
	if (status && err.code)
		diag_errinfo(&err);
	if (status == 0)
		printf("%s %s balance %lld\n", id, wallet, balance);
	outbox_close(ob);
	if (fflush(stdout) != 0 && status == 0)
		status = EXIT_IOERR;
	return status;
}
