// JdbcThreads: many threads opening pgjdbc connections at once, by one way (JdbcOpen).
//
//   java ... JdbcThreads WAY HOST PORT DBNAME USER THREADS EACH [setting=value ...]
//
// driver-url, driver-props, datasource: THREADS threads each open (and close) EACH
// connections, all threads released together. hikari: one pool of THREADS connections,
// filled by HikariCP's own threads, from which THREADS threads each borrow EACH times,
// all holding theirs at once (a barrier) so that the pool must open THREADS of them.
// Prints "opened N tls T plain P failed F" (N: physical connections opened) and the first
// failure; exit 0 only when none failed. The password is PQTLS_TEST_PASSWORD.

import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

public final class JdbcThreads {
    private JdbcThreads() {}

    public static void main(String[] args) throws Exception {
        String way = args[0];
        int threads = Integer.parseInt(args[5]);
        int each = Integer.parseInt(args[6]);
        Map<String, String> settings = new LinkedHashMap<>();
        for (int i = 7; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        JdbcOpen.Target t = new JdbcOpen.Target(args[1], Integer.parseInt(args[2]), args[3],
                                                args[4], System.getenv("PQTLS_TEST_PASSWORD"));
        Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
        for (String k : new String[] {"tls", "plain", "failed"}) {
            counts.put(k, new AtomicInteger());
        }
        String[] firstFailure = new String[1];
        HikariDataSource pool = way.equals("hikari")
            ? new HikariDataSource(JdbcOpen.hikariConfig(t, settings, threads)) : null;
        // the backends a pool's connections run in: each physical connection counted once
        Map<Integer, String> backends = new ConcurrentHashMap<>();
        CountDownLatch go = new CountDownLatch(1);
        CyclicBarrier held = new CyclicBarrier(threads);
        Thread[] ts = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            ts[i] = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int j = 0; j < each; j++) {
                    try {
                        if (pool != null) {
                            try (Connection c = pool.getConnection()) {
                                backends.put(backendPid(c), JdbcOpen.transport(c));
                                held.await(60, TimeUnit.SECONDS);
                            }
                        } else {
                            try (JdbcOpen.Opened o = JdbcOpen.open(way, t, settings)) {
                                counts.get(JdbcOpen.transport(o.conn)).incrementAndGet();
                            }
                        }
                    } catch (Exception e) {
                        counts.get("failed").incrementAndGet();
                        synchronized (firstFailure) {
                            if (firstFailure[0] == null) {
                                firstFailure[0] = JdbcOpen.describe(e);
                            }
                        }
                    }
                }
            }, "jdbc-worker-" + i);
            ts[i].start();
        }
        go.countDown();
        for (Thread th : ts) {
            th.join();
        }
        if (pool != null) {
            pool.close();
            for (String v : backends.values()) {
                counts.get(v).incrementAndGet();
            }
        }
        int opened = counts.get("tls").get() + counts.get("plain").get();
        System.out.println("opened " + opened + " tls " + counts.get("tls") + " plain "
                           + counts.get("plain") + " failed " + counts.get("failed"));
        if (firstFailure[0] != null) {
            System.out.println("first failure: " + firstFailure[0]);
        }
        System.exit(counts.get("failed").get() == 0 ? 0 : 1);
    }

    private static int backendPid(Connection c) throws Exception {
        try (java.sql.Statement s = c.createStatement();
             java.sql.ResultSet rs = s.executeQuery("select pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
