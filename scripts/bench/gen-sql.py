# gen-sql.py: writes the benchmark's SQL script for sqlite3 on stdout:
# tables, ROWS rows inserted in transactions of 5000, indexes, then queries.
# Deterministic (fixed seed), so every run executes the same statements.
# Usage: python3 gen-sql.py ROWS
import random
import sys

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
rnd = random.Random(1234)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
         "hotel", "india", "juliet", "kilo", "lima", "mike", "november"]
out = sys.stdout.write

out("PRAGMA journal_mode=OFF;\nPRAGMA synchronous=OFF;\n")
out("CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city TEXT, score REAL);\n")
out("CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, item TEXT, qty INTEGER, note TEXT);\n")
ncust = max(rows // 10, 1)
for i in range(rows + ncust):
    if i % 5000 == 0:
        out("BEGIN;\n")
    if i < ncust:
        out("INSERT INTO customer VALUES(%d,'%s %s %d','%s',%.3f);\n" % (
            i, rnd.choice(words), rnd.choice(words), i, rnd.choice(words), rnd.random() * 100))
    else:
        j = i - ncust
        out("INSERT INTO orders VALUES(%d,%d,'%s-%d',%d,'%s');\n" % (
            j, rnd.randrange(ncust), rnd.choice(words), rnd.randrange(1000),
            rnd.randrange(1, 20), " ".join(rnd.choice(words) for _ in range(rnd.randrange(1, 8)))))
    if i % 5000 == 4999:
        out("COMMIT;\n")
if (rows + ncust) % 5000:
    out("COMMIT;\n")
out("CREATE INDEX orders_customer ON orders(customer);\n")
out("CREATE INDEX orders_item ON orders(item);\n")
out("CREATE INDEX customer_city ON customer(city, score);\n")
out("SELECT city, count(*), avg(score) FROM customer GROUP BY city ORDER BY city;\n")
out("SELECT c.city, sum(o.qty) FROM orders o JOIN customer c ON c.id = o.customer "
    "GROUP BY c.city ORDER BY 2 DESC LIMIT 5;\n")
out("SELECT item, count(*) FROM orders GROUP BY item ORDER BY 2 DESC, 1 LIMIT 5;\n")
out("SELECT count(*) FROM orders WHERE note LIKE '%kilo%lima%';\n")
out("SELECT name FROM customer WHERE id IN (SELECT customer FROM orders WHERE qty > 18) "
    "ORDER BY score DESC LIMIT 3;\n")
out("UPDATE orders SET note = upper(note) WHERE qty < 5;\n")
out("DELETE FROM orders WHERE qty = 7;\n")
out("SELECT count(*), sum(length(note)) FROM orders;\n")
