// BillingService: the demo's Java service, a stand-in for a Spring/Hibernate service on a
// HikariCP pool. It follows the AWS guide's JDBC advice: sslmode=verify-full with pgjdbc's
// DefaultJavaSSLFactory, so the JVM's trust store (javax.net.ssl.trustStore, made with
// keytool) decides which server certificates it accepts.
//
//   java -Djavax.net.ssl.trustStore=... -cp ...:postgresql.jar:HikariCP.jar BillingService URL
//
// The password is PGPASSWORD from the environment (pgjdbc itself reads no environment).

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;

public final class BillingService {
    private BillingService() {}

    public static void main(String[] args) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(args[0]);
        config.setPassword(System.getenv("PGPASSWORD"));
        config.setMaximumPoolSize(2);
        config.setInitializationFailTimeout(1);
        config.addDataSourceProperty("sslmode", "verify-full");
        config.addDataSourceProperty("sslfactory", "org.postgresql.ssl.DefaultJavaSSLFactory");
        try (HikariDataSource pool = new HikariDataSource(config);
             Connection c = pool.getConnection();
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(
                 "select ssl from pg_stat_ssl where pid = pg_backend_pid()")) {
            rs.next();
            System.out.println("java: billing service ready (TLS " + (rs.getBoolean(1) ? "on" : "off")
                               + ", pool of " + pool.getMaximumPoolSize() + ")");
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            System.out.println("java: billing service cannot start: " + cause.getMessage());
            System.exit(1);
        }
    }
}
