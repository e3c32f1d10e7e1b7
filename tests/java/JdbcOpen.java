// JdbcOpen: open one pgjdbc connection the way a Java program would, by one of the ways
// the pqtls tests cover, and say what pgjdbc really did.
//
//   driver-url    DriverManager.getConnection(url) with every setting and the password
//                 in the URL's query string (as many applications' configuration does)
//   driver-props  DriverManager.getConnection(url, Properties): settings and password
//                 in the Properties object, except settings named url.NAME, which go
//                 into the URL as NAME (to learn which of the two pgjdbc believes)
//   datasource    PGSimpleDataSource and its setters (setSslMode, setSslRootCert, ...)
//   hikari        HikariCP (jdbcUrl, the settings as data source properties), a pool of
//                 one connection that fails at once when its first connection fails
//
// The password never comes from the command line: it is read from the environment
// variable PQTLS_TEST_PASSWORD by the callers (JdbcPlan, JdbcThreads).

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Properties;
import org.postgresql.ds.PGSimpleDataSource;

final class JdbcOpen {
    private JdbcOpen() {}

    /** Where to connect and as whom. */
    static final class Target {
        final String host;
        final int port;
        final String db;
        final String user;
        final String password;

        Target(String host, int port, String db, String user, String password) {
            this.host = host;
            this.port = port;
            this.db = db;
            this.user = user;
            this.password = password;
        }

        String baseUrl() {
            return "jdbc:postgresql://" + host + ":" + port + "/" + db;
        }
    }

    /** A connection and whatever must be closed with it (a pool). */
    static final class Opened implements AutoCloseable {
        final Connection conn;
        final java.io.Closeable owner;

        Opened(Connection conn, java.io.Closeable owner) {
            this.conn = conn;
            this.owner = owner;
        }

        @Override
        public void close() throws SQLException, java.io.IOException {
            try {
                conn.close();
            } finally {
                if (owner != null) {
                    owner.close();
                }
            }
        }
    }

    static Opened open(String way, Target t, Map<String, String> settings) throws Exception {
        switch (way) {
            case "driver-url":
                return new Opened(DriverManager.getConnection(urlWith(t, settings)), null);
            case "driver-props": {
                Properties p = new Properties();
                StringBuilder url = new StringBuilder(t.baseUrl());
                char sep = '?';
                for (Map.Entry<String, String> e : settings.entrySet()) {
                    if (e.getKey().startsWith("url.")) {
                        url.append(sep).append(enc(e.getKey().substring(4))).append('=')
                           .append(enc(e.getValue()));
                        sep = '&';
                    } else {
                        p.setProperty(e.getKey(), e.getValue());
                    }
                }
                p.setProperty("user", t.user);
                p.setProperty("password", t.password);
                return new Opened(DriverManager.getConnection(url.toString(), p), null);
            }
            case "datasource":
                return new Opened(dataSource(t, settings).getConnection(), null);
            case "hikari":
                return hikari(t, settings, 1);
            default:
                throw new IllegalArgumentException("unknown way " + way);
        }
    }

    static String urlWith(Target t, Map<String, String> settings) {
        StringBuilder sb = new StringBuilder(t.baseUrl());
        sb.append("?user=").append(enc(t.user)).append("&password=").append(enc(t.password));
        for (Map.Entry<String, String> e : settings.entrySet()) {
            sb.append('&').append(enc(e.getKey())).append('=').append(enc(e.getValue()));
        }
        return sb.toString();
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** PGSimpleDataSource configured through its named setters where it has them. */
    static PGSimpleDataSource dataSource(Target t, Map<String, String> settings)
            throws SQLException {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setServerNames(new String[] {t.host});
        ds.setPortNumbers(new int[] {t.port});
        ds.setDatabaseName(t.db);
        ds.setUser(t.user);
        ds.setPassword(t.password);
        for (Map.Entry<String, String> e : settings.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "sslmode": ds.setSslMode(v); break;
                case "ssl": ds.setSsl(Boolean.parseBoolean(v)); break;
                case "sslfactory": ds.setSslfactory(v); break;
                case "sslrootcert": ds.setSslRootCert(v); break;
                default: ds.setProperty(e.getKey(), v); break;
            }
        }
        return ds;
    }

    /** A HikariCP pool of `size` connections; fails at construction (fail fast) when
     *  its first connection fails, as a service's pool does at start. */
    static Opened hikari(Target t, Map<String, String> settings, int size) throws SQLException {
        HikariDataSource pool = new HikariDataSource(hikariConfig(t, settings, size));
        try {
            return new Opened(pool.getConnection(), pool);
        } catch (SQLException | RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    static HikariConfig hikariConfig(Target t, Map<String, String> settings, int size) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(t.baseUrl());
        c.setUsername(t.user);
        c.setPassword(t.password);
        c.setMaximumPoolSize(size);
        c.setMinimumIdle(size);
        c.setConnectionTimeout(30000);
        c.setInitializationFailTimeout(1);
        for (Map.Entry<String, String> e : settings.entrySet()) {
            c.addDataSourceProperty(e.getKey(), e.getValue());
        }
        return c;
    }

    /** "tls" or "plain": what the server says of this very connection. */
    static String transport(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(
                 "select ssl from pg_stat_ssl where pid = pg_backend_pid()")) {
            if (!rs.next()) {
                throw new SQLException("pg_stat_ssl has no row for this backend");
            }
            return rs.getBoolean(1) ? "tls" : "plain";
        }
    }

    /** One line that says what failed: the outermost exception's class, then the
     *  first PSQLException (pgjdbc's own) in the cause chain, class and message. */
    static String describe(Throwable e) {
        Throwable pg = null;
        for (Throwable c = e; c != null && pg == null; c = c.getCause()) {
            if (c.getClass().getName().startsWith("org.postgresql.")) {
                pg = c;
            }
        }
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String out = e.getClass().getName();
        if (pg != null) {
            out += "\t" + pg.getClass().getName() + ": " + pg.getMessage();
        } else {
            out += "\t" + e.getMessage();
        }
        if (root != e && root != pg) {
            out += "\t" + root.getClass().getName() + ": " + root.getMessage();
        }
        return out.replace('\n', ' ').replace('\r', ' ');
    }
}
