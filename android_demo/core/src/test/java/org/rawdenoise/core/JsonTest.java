package org.rawdenoise.core;

import java.util.List;
import java.util.Map;

import org.junit.Test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

public class JsonTest {

    @Test
    public void parsesNestedValuesKeepingKeyOrder() {
        Map<String, Object> o = Json.asObject(Json.parse(
                "{\"z\": [1, -2.5, true, null, \"s\\u00e9\\n\"], \"a\": {\"b\": false}}", "t.json"), "root");
        assertEquals(List.of("z", "a"), List.copyOf(o.keySet()));
        List<Object> z = Json.asArray(o.get("z"), "z");
        assertEquals(1L, z.get(0));
        assertEquals(-2.5, (Double) z.get(1), 0.0);
        assertEquals(Boolean.TRUE, z.get(2));
        assertNull(z.get(3));
        assertEquals("s\u00e9\n", z.get(4));
        assertEquals(Boolean.FALSE, Json.asObject(o.get("a"), "a").get("b"));
    }

    @Test
    public void numbersRoundTripPythonReprExactly() {
        String[] literals = {"0.1", "1e-05", "0.0009999999999999998", "0.0010000000000000002", "3.3e-4",
                             "2.2250738585072014e-308", "1.7976931348623157e+308", "-0.0"};
        for (String s : literals) {
            double v = Json.asDouble(Json.parse(s, "n"), s);
            assertEquals(s, Double.doubleToRawLongBits(Double.parseDouble(s)), Double.doubleToRawLongBits(v));
        }
        assertEquals(Long.class, Json.parse("12345678901", "n").getClass());
        assertEquals(Double.class, Json.parse("12345678901234567890123", "n").getClass());
    }

    @Test
    public void rejectsMalformedJsonWithTheSourceAndPosition() {
        String[] bad = {"{\"a\": 1,}", "[1 2]", "NaN", "{\"a\": Infinity}", "\"open", "{\"a\":1}{}",
                        "{\"a\":1,\"a\":2}", "01", "1.", "-", "[", "{a:1}", "\"\\x\"", "1e999"};
        for (String s : bad) {
            try {
                Json.parse(s, "manifest.json");
                fail("accepted " + s);
            } catch (JsonException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith("manifest.json: invalid JSON at line 1, column "));
            }
        }
    }

    @Test
    public void reportsTheLineOfAnErrorInAMultiLineDocument() {
        try {
            Json.parse("{\n  \"a\": 1,\n  \"b\": ]\n}", "m.json");
            fail("accepted a bad value");
        } catch (JsonException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("m.json: invalid JSON at line 3, column 8"));
        }
    }

    @Test
    public void typedAccessorsNameTheFieldThatIsWrong() {
        Map<String, Object> o = Json.asObject(Json.parse("{\"stride\": 8.5, \"name\": 3}", "m"), "m");
        try {
            Json.asInt(o.get("stride"), "io.stride");
            fail("accepted a fraction as an integer");
        } catch (JsonException e) {
            assertEquals("io.stride must be an integer, got 8.5", e.getMessage());
        }
        try {
            Json.asString(o.get("name"), "specialists[0].name");
            fail("accepted a number as a string");
        } catch (JsonException e) {
            assertEquals("specialists[0].name must be a string, got 3", e.getMessage());
        }
    }
}
