// JdbcPlan: open pgjdbc connections one after another, as a plan file says, and print
// what pgjdbc really did with each (the rehearsal's ground truth).
//
//   java -cp <build>:postgresql.jar:HikariCP.jar:slf4j JdbcPlan PLAN
//
// PLAN has one connection a line, fields separated by tabs:
//   id  way  host  port  dbname  user  [setting=value ...]
// (way: see JdbcOpen). The password is PQTLS_TEST_PASSWORD from the environment.
// One line out per connection, in plan order, fields separated by tabs:
//   id  ok      tls|plain
//   id  failed  <outer exception class>  <pgjdbc exception class: message>  [<root cause>]
// Connections run strictly one after another (one pool at a time for HikariCP), so a
// record written per connection attempt comes in plan order.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class JdbcPlan {
    private JdbcPlan() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: JdbcPlan PLAN");
            System.exit(2);
        }
        String password = System.getenv("PQTLS_TEST_PASSWORD");
        if (password == null) {
            System.err.println("JdbcPlan: PQTLS_TEST_PASSWORD is not set");
            System.exit(2);
        }
        List<String> lines = Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8);
        StringBuilder out = new StringBuilder();
        for (String line : lines) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t");
            Map<String, String> settings = new LinkedHashMap<>();
            for (int i = 6; i < f.length; i++) {
                int eq = f[i].indexOf('=');
                settings.put(f[i].substring(0, eq), f[i].substring(eq + 1));
            }
            JdbcOpen.Target t = new JdbcOpen.Target(f[2], Integer.parseInt(f[3]), f[4], f[5],
                                                    password);
            String result;
            try (JdbcOpen.Opened o = JdbcOpen.open(f[1], t, settings)) {
                result = "ok\t" + JdbcOpen.transport(o.conn);
            } catch (Exception e) {
                result = "failed\t" + JdbcOpen.describe(e);
            }
            System.out.println(f[0] + "\t" + result);
        }
        System.out.flush();
    }
}
