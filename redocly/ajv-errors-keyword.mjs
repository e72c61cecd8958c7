// Declares ajv-errors' `errorMessage` schema keyword to Redocly's type tree, so the `struct` rule accepts
// it and still flags every other unknown keyword. Its value is a message or an object of messages.
export default function ajvErrorsKeyword() {
  return {
    id: "ajv-errors",
    typeExtension: {
      oas3(types) {
        const errorMessage = (value) => (typeof value === "string" ? { type: "string" } : { type: "object" });
        return {
          ...types,
          Schema: { ...types.Schema, properties: { ...types.Schema.properties, errorMessage } },
        };
      },
    },
  };
}
