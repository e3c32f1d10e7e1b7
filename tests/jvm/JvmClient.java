// JvmClient: open pgjdbc connections one way or another and print what pgjdbc did,
// for tests/integration/test_jvm.py (the JVM agent's tests).
//
//   java -cp <dir>:postgresql.jar:HikariCP.jar:slf4j-api.jar:slf4j-nop.jar \
//        JvmClient WAY COUNT URL [key=value ...]
//
// WAY: driver (DriverManager.getConnection(url, Properties)), datasource
// (PGSimpleDataSource: setURL and setProperty), hikari (a HikariCP pool of COUNT
// connections, all borrowed at once), threads (COUNT threads, DriverManager, at once).
// The user is the key `user`; the password comes from PQTLS_TEST_PASSWORD (never the
// command line); the other keys are pgjdbc settings, given as Properties (or data
// source properties). One line per connection, in no particular order:
//   ok tls|plain
//   failed <exception class>: <message> [<- <cause class>: <message>]

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.postgresql.ds.PGSimpleDataSource;

public final class JvmClient {
    private JvmClient() {}

    static String describe(Throwable e) {
        String s = "failed " + e.getClass().getName() + ": " + e.getMessage();
        Throwable c = e.getCause();
        if (c != null && c != e) {
            s += " <- " + c.getClass().getName() + ": " + c.getMessage();
        }
        return s;
    }

    /** "ok tls" or "ok plain", from the server's own view of the session. */
    static String use(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")) {
            rs.next();
            return "ok " + (rs.getBoolean(1) ? "tls" : "plain");
        }
    }

    static String once(String way, String url, Properties p) {
        try {
            if (way.equals("datasource")) {
                PGSimpleDataSource ds = new PGSimpleDataSource();
                ds.setURL(url);
                for (String k : p.stringPropertyNames()) {
                    ds.setProperty(k, p.getProperty(k));
                }
                try (Connection c = ds.getConnection()) {
                    return use(c);
                }
            }
            try (Connection c = DriverManager.getConnection(url, p)) {
                return use(c);
            }
        } catch (SQLException e) {
            return describe(e);
        }
    }

    static List<String> hikari(int count, String url, Properties p) {
        List<String> out = new ArrayList<>();
        HikariConfig cfg = new HikariConfig();
        cfg.setJdbcUrl(url);
        cfg.setUsername(p.getProperty("user"));
        cfg.setPassword(p.getProperty("password"));
        for (String k : p.stringPropertyNames()) {
            if (!k.equals("user") && !k.equals("password")) {
                cfg.addDataSourceProperty(k, p.getProperty(k));
            }
        }
        cfg.setMaximumPoolSize(count);
        cfg.setMinimumIdle(1);
        cfg.setConnectionTimeout(10000);
        try (HikariDataSource ds = new HikariDataSource(cfg)) {
            List<Connection> held = new ArrayList<>();
            try {
                for (int i = 0; i < count; i++) {
                    held.add(ds.getConnection());
                }
                for (Connection c : held) {
                    out.add(use(c));
                }
            } finally {
                for (Connection c : held) {
                    c.close();
                }
            }
        } catch (RuntimeException | SQLException e) {
            out.add(describe(e));
        }
        return out;
    }

    static List<String> threads(int count, String url, Properties p) throws InterruptedException {
        List<String> out = new ArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Thread t = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                String r = once("driver", url, p);
                synchronized (out) {
                    out.add(r);
                }
            });
            t.start();
            ts.add(t);
        }
        start.countDown();
        for (Thread t : ts) {
            t.join();
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String way = args[0];
        int count = Integer.parseInt(args[1]);
        String url = args[2];
        Properties p = new Properties();
        String password = System.getenv("PQTLS_TEST_PASSWORD");
        if (password != null) {
            p.setProperty("password", password);
        }
        for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            p.setProperty(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        List<String> out;
        if (way.equals("hikari")) {
            out = hikari(count, url, p);
        } else if (way.equals("threads")) {
            out = threads(count, url, p);
        } else {
            out = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                out.add(once(way, url, p));
            }
        }
        for (String line : out) {
            System.out.println(line);
        }
    }
}
