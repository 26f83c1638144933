package org.rawdenoise.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict RFC 8259 JSON reader, small enough to audit, so the core needs no third-party library.
 *
 * <p>Objects become {@code Map<String, Object>} (key order kept), arrays {@code List<Object>},
 * integers without fraction or exponent {@code Long}, other numbers {@code Double} (parsed with
 * {@link Double#parseDouble}, which rounds exactly like Python's {@code float()}, so values written
 * by the Python SDK come back bit-identical), strings, booleans and {@code null}. NaN and Infinity
 * are rejected. The typed accessors throw {@link JsonException} naming the offending field.
 */
public final class Json {

    private final String text;
    private final String source;
    private int pos;

    private Json(String text, String source) {
        this.text = text;
        this.source = source;
    }

    /** Parse one JSON document; {@code source} (a file name) is quoted in every error. */
    public static Object parse(String text, String source) {
        Json parser = new Json(text, source);
        parser.skipSpace();
        Object value = parser.readValue(0);
        parser.skipSpace();
        if (parser.pos != text.length()) {
            throw parser.error("unexpected text after the JSON value");
        }
        return value;
    }

    // ----------------------------------------------------------------- typed accessors

    /** {@code value} as a JSON object, or an error naming {@code what}. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> asObject(Object value, String what) {
        if (value instanceof Map) {
            return (Map<String, Object>) value;
        }
        throw new JsonException(what + " must be a JSON object, got " + describe(value));
    }

    /** {@code value} as a JSON array, or an error naming {@code what}. */
    @SuppressWarnings("unchecked")
    public static List<Object> asArray(Object value, String what) {
        if (value instanceof List) {
            return (List<Object>) value;
        }
        throw new JsonException(what + " must be a JSON array, got " + describe(value));
    }

    public static String asString(Object value, String what) {
        if (value instanceof String) {
            return (String) value;
        }
        throw new JsonException(what + " must be a string, got " + describe(value));
    }

    public static double asDouble(Object value, String what) {
        if (value instanceof Long) {
            return ((Long) value).doubleValue();
        }
        if (value instanceof Double) {
            return (Double) value;
        }
        throw new JsonException(what + " must be a number, got " + describe(value));
    }

    public static long asLong(Object value, String what) {
        if (value instanceof Long) {
            return (Long) value;
        }
        throw new JsonException(what + " must be an integer, got " + describe(value));
    }

    public static int asInt(Object value, String what) {
        long v = asLong(value, what);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new JsonException(what + " = " + v + " is out of range");
        }
        return (int) v;
    }

    public static boolean asBoolean(Object value, String what) {
        if (value instanceof Boolean) {
            return (Boolean) value;
        }
        throw new JsonException(what + " must be true or false, got " + describe(value));
    }

    /** A JSON array of numbers as {@code double[]}. */
    public static double[] asDoubleArray(Object value, String what) {
        List<Object> list = asArray(value, what);
        double[] out = new double[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = asDouble(list.get(i), what + "[" + i + "]");
        }
        return out;
    }

    /** A JSON array of integers as {@code int[]}. */
    public static int[] asIntArray(Object value, String what) {
        List<Object> list = asArray(value, what);
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = asInt(list.get(i), what + "[" + i + "]");
        }
        return out;
    }

    private static String describe(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Map) {
            return "an object";
        }
        if (value instanceof List) {
            return "an array";
        }
        if (value instanceof String) {
            return "the string \"" + value + "\"";
        }
        return value.toString();
    }

    // ----------------------------------------------------------------- parser

    private static final int MAX_DEPTH = 64;

    private Object readValue(int depth) {
        if (depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH);
        }
        if (pos >= text.length()) {
            throw error("unexpected end of input");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return readObject(depth);
            case '[':
                return readArray(depth);
            case '"':
                return readString();
            case 't':
                expectWord("true");
                return Boolean.TRUE;
            case 'f':
                expectWord("false");
                return Boolean.FALSE;
            case 'n':
                expectWord("null");
                return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return readNumber();
                }
                throw error("unexpected character '" + c + "'");
        }
    }

    private Map<String, Object> readObject(int depth) {
        Map<String, Object> object = new LinkedHashMap<>();
        pos++; // '{'
        skipSpace();
        if (peek() == '}') {
            pos++;
            return Collections.unmodifiableMap(object);
        }
        while (true) {
            skipSpace();
            if (peek() != '"') {
                throw error("expected a string key");
            }
            String key = readString();
            skipSpace();
            expect(':');
            skipSpace();
            if (object.containsKey(key)) {
                throw error("duplicate key \"" + key + "\"");
            }
            object.put(key, readValue(depth + 1));
            skipSpace();
            char c = next();
            if (c == '}') {
                return Collections.unmodifiableMap(object);
            }
            if (c != ',') {
                pos--;
                throw error("expected ',' or '}'");
            }
        }
    }

    private List<Object> readArray(int depth) {
        List<Object> list = new ArrayList<>();
        pos++; // '['
        skipSpace();
        if (peek() == ']') {
            pos++;
            return Collections.unmodifiableList(list);
        }
        while (true) {
            skipSpace();
            list.add(readValue(depth + 1));
            skipSpace();
            char c = next();
            if (c == ']') {
                return Collections.unmodifiableList(list);
            }
            if (c != ',') {
                pos--;
                throw error("expected ',' or ']'");
            }
        }
    }

    private String readString() {
        pos++; // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            char c = next();
            if (c == '"') {
                return sb.toString();
            }
            if (c < 0x20) {
                pos--;
                throw error("control character in a string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            char e = next();
            switch (e) {
                case '"': sb.append('"'); break;
                case '\\': sb.append('\\'); break;
                case '/': sb.append('/'); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'n': sb.append('\n'); break;
                case 'r': sb.append('\r'); break;
                case 't': sb.append('\t'); break;
                case 'u':
                    if (pos + 4 > text.length()) {
                        throw error("truncated \\u escape");
                    }
                    try {
                        sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                    } catch (NumberFormatException ex) {
                        throw error("bad \\u escape");
                    }
                    pos += 4;
                    break;
                default:
                    pos--;
                    throw error("bad escape '\\" + e + "'");
            }
        }
    }

    private Object readNumber() {
        int start = pos;
        boolean integral = true;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
        } else {
            requireDigits();
        }
        if (peek() == '.') {
            integral = false;
            pos++;
            requireDigits();
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            requireDigits();
        }
        String literal = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(literal);
            } catch (NumberFormatException tooBig) {
                return Double.parseDouble(literal);
            }
        }
        double v = Double.parseDouble(literal);
        if (Double.isInfinite(v)) {
            pos = start;
            throw error("number " + literal + " overflows a double");
        }
        return v;
    }

    private void requireDigits() {
        int start = pos;
        while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
            pos++;
        }
        if (pos == start) {
            throw error("expected a digit");
        }
    }

    private void expectWord(String word) {
        if (!text.startsWith(word, pos)) {
            throw error("unexpected token (NaN, Infinity and bare words are not JSON)");
        }
        pos += word.length();
    }

    private void expect(char c) {
        if (next() != c) {
            pos--;
            throw error("expected '" + c + "'");
        }
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private char next() {
        if (pos >= text.length()) {
            pos++;
            throw error("unexpected end of input");
        }
        return text.charAt(pos++);
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private JsonException error(String message) {
        int at = Math.min(pos, text.length());
        int line = 1;
        int column = 1;
        for (int i = 0; i < at; i++) {
            if (text.charAt(i) == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return new JsonException(source + ": invalid JSON at line " + line + ", column " + column
                + ": " + message);
    }
}
