/**
 * @module The one error type of the lab (building, inspecting, removing it, and its delay forwarder).
 */
export class LabError extends Error {
  override readonly name = 'LabError';
}
