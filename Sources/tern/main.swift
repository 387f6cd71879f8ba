print("tern: skeleton")
