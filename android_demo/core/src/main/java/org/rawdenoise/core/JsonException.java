package org.rawdenoise.core;

/** A JSON document that is malformed or lacks a field of the expected type. */
public class JsonException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public JsonException(String message) {
        super(message);
    }
}
