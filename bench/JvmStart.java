// JvmStart: a small Java program that never loads pgjdbc, for bench/jvm_start.py: what a
// JVM pays at start for the pqtls agent (-agentpath) when it never opens a PostgreSQL
// connection. It does what a small tool does at start (collections, streams, regular
// expressions, dates, string formatting: some hundreds of JDK classes loaded) and exits.

import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

public final class JvmStart {
    private JvmStart() {}

    public static void main(String[] args) {
        Map<String, Integer> counts = new HashMap<>();
        List<String> words = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            words.add("w" + (i % 97));
        }
        for (String w : words) {
            counts.merge(w, 1, Integer::sum);
        }
        Pattern p = Pattern.compile("w(\\d+)");
        int digits = 0;
        for (String w : counts.keySet()) {
            Matcher m = p.matcher(w);
            if (m.matches()) {
                digits += m.group(1).length();
            }
        }
        String top = counts.entrySet().stream()
            .sorted(Map.Entry.comparingByKey())
            .limit(3)
            .map(e -> e.getKey() + "=" + e.getValue())
            .collect(Collectors.joining(","));
        String day = LocalDate.of(2026, 12, 6).format(DateTimeFormatter.ISO_LOCAL_DATE);
        System.out.println(String.format("%s %d %s %d", day, counts.size(), top, digits));
    }
}
