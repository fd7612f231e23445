"""Albums: named sets of a person's photos, their pages, and ZIP export."""
